-- Support Tickets — full schema for MySQL / MariaDB.
-- Run it as an administrator:  mysql -u root -p < schema_support.sql
-- It can be run again without harm: everything is created only if missing.
-- `python -m server init-db` applies the same statements to the configured database.

-- This file is UTF-8: say so, or a client in a latin1 locale stores 'Résolu' as 'RÃ©solu'.
SET NAMES utf8mb4;

CREATE DATABASE IF NOT EXISTS suivi_incident
  CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE suivi_incident;

CREATE TABLE IF NOT EXISTS utilisateurs (
  id INT NOT NULL AUTO_INCREMENT,
  nom VARCHAR(80) NOT NULL,
  email VARCHAR(254) NOT NULL,
  mot_de_passe VARCHAR(60) NOT NULL,
  role ENUM('utilisateur', 'admin') NOT NULL DEFAULT 'utilisateur',
  -- Login protection: consecutive failures and when the last one happened.
  echecs_connexion INT NOT NULL DEFAULT 0,
  dernier_echec DATETIME NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_utilisateurs_email UNIQUE (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS statut (
  id INT NOT NULL AUTO_INCREMENT,
  libelle VARCHAR(20) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_statut_libelle UNIQUE (libelle)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS tickets (
  id INT NOT NULL AUTO_INCREMENT,
  titre VARCHAR(120) NOT NULL,
  description TEXT NOT NULL,
  urgence ENUM('Faible', 'Moyenne', 'Haute') NOT NULL,
  auteur_id INT NOT NULL,
  statut_id INT NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  -- A user's tickets, newest first.
  INDEX idx_tickets_auteur_date (auteur_id, created_at),
  -- All tickets filtered by status, then urgency, ordered by date.
  INDEX idx_tickets_statut_urgence_date (statut_id, urgence, created_at),
  -- All tickets, newest first.
  INDEX idx_tickets_date (created_at),
  CONSTRAINT fk_tickets_auteur FOREIGN KEY (auteur_id)
    REFERENCES utilisateurs (id) ON DELETE CASCADE,
  CONSTRAINT fk_tickets_statut FOREIGN KEY (statut_id)
    REFERENCES statut (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS historique (
  id INT NOT NULL AUTO_INCREMENT,
  ticket_id INT NOT NULL,
  acteur_id INT NULL,
  -- Snapshot of the actor's name: history stays readable after a rename or deletion.
  acteur_nom VARCHAR(80) NOT NULL,
  action VARCHAR(40) NOT NULL,
  ancien_statut_id INT NULL,
  nouveau_statut_id INT NULL,
  details TEXT NULL,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  -- A ticket's history in order.
  INDEX idx_historique_ticket_date (ticket_id, created_at),
  INDEX idx_historique_acteur (acteur_id),
  INDEX idx_historique_ancien_statut (ancien_statut_id),
  INDEX idx_historique_nouveau_statut (nouveau_statut_id),
  CONSTRAINT fk_historique_ticket FOREIGN KEY (ticket_id)
    REFERENCES tickets (id) ON DELETE CASCADE,
  CONSTRAINT fk_historique_acteur FOREIGN KEY (acteur_id)
    REFERENCES utilisateurs (id) ON DELETE SET NULL,
  CONSTRAINT fk_historique_ancien_statut FOREIGN KEY (ancien_statut_id)
    REFERENCES statut (id) ON DELETE RESTRICT,
  CONSTRAINT fk_historique_nouveau_statut FOREIGN KEY (nouveau_statut_id)
    REFERENCES statut (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO statut (id, libelle) VALUES
  (1, 'En attente'),
  (2, 'En cours'),
  (3, 'Résolu');
