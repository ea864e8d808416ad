-- Support Tickets — full schema for MySQL / MariaDB.
-- Generated from server/store/schema.py: `python -m server schema-sql > schema_support.sql`.
-- Run it as an administrator:  mysql -u root -p < schema_support.sql
-- It can be run again without harm: everything is created only if missing.
-- `python -m server init-db` applies the same statements to the configured database.

-- This file is UTF-8: say so, or a client in a latin1 locale stores 'Résolu' as 'RÃ©solu'.
SET NAMES utf8mb4;

CREATE DATABASE IF NOT EXISTS suivi_incident
  CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
USE suivi_incident;

CREATE TABLE IF NOT EXISTS evenements_compte (
  id INTEGER NOT NULL AUTO_INCREMENT,
  created_at DATETIME NOT NULL,
  instant_us BIGINT NOT NULL,
  utilisateur_id INTEGER NOT NULL,
  evenement VARCHAR(40) NOT NULL,
  `role` VARCHAR(20),
  processus VARCHAR(64) NOT NULL DEFAULT '',
  PRIMARY KEY (id)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS lieux (
  id INTEGER NOT NULL AUTO_INCREMENT,
  nom VARCHAR(60) NOT NULL,
  active BOOL NOT NULL DEFAULT true,
  PRIMARY KEY (id),
  CONSTRAINT uq_lieux_nom UNIQUE (nom)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS statut (
  id INTEGER NOT NULL AUTO_INCREMENT,
  libelle VARCHAR(20) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_statut_libelle UNIQUE (libelle)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS utilisateurs (
  id INTEGER NOT NULL AUTO_INCREMENT,
  nom VARCHAR(80) NOT NULL,
  email VARCHAR(254) NOT NULL,
  mot_de_passe VARCHAR(60) NOT NULL,
  `role` ENUM('utilisateur','admin') NOT NULL DEFAULT 'utilisateur',
  echecs_connexion INTEGER NOT NULL DEFAULT '0',
  dernier_echec DATETIME,
  created_at DATETIME NOT NULL,
  langue VARCHAR(5),
  email_verifie BOOL NOT NULL DEFAULT false,
  notifications VARCHAR(10) NOT NULL DEFAULT 'reponses',
  PRIMARY KEY (id),
  CONSTRAINT uq_utilisateurs_email UNIQUE (email)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS version_schema (
  version INTEGER NOT NULL,
  applied_at DATETIME NOT NULL,
  PRIMARY KEY (version)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS categories (
  id INTEGER NOT NULL AUTO_INCREMENT,
  nom VARCHAR(60) NOT NULL,
  active BOOL NOT NULL DEFAULT true,
  assigne_defaut_id INTEGER,
  urgence_defaut ENUM('Faible','Moyenne','Haute'),
  PRIMARY KEY (id),
  CONSTRAINT uq_categories_nom UNIQUE (nom),
  CONSTRAINT fk_categories_assigne_defaut FOREIGN KEY(assigne_defaut_id) REFERENCES utilisateurs (id) ON DELETE SET NULL,
  INDEX idx_categories_assigne_defaut (assigne_defaut_id)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS cles_ssh (
  id INTEGER NOT NULL AUTO_INCREMENT,
  utilisateur_id INTEGER NOT NULL,
  algorithme VARCHAR(40) NOT NULL,
  cle_publique TEXT NOT NULL,
  empreinte VARCHAR(64) NOT NULL,
  commentaire VARCHAR(200) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_cles_ssh_utilisateur_empreinte UNIQUE (utilisateur_id, empreinte),
  CONSTRAINT fk_cles_ssh_utilisateur FOREIGN KEY(utilisateur_id) REFERENCES utilisateurs (id) ON DELETE CASCADE
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS codes_reinitialisation (
  id INTEGER NOT NULL AUTO_INCREMENT,
  utilisateur_id INTEGER NOT NULL,
  code_hash CHAR(64) NOT NULL,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  used_at DATETIME,
  emis_par_id INTEGER,
  canal ENUM('admin','mail') NOT NULL DEFAULT 'admin',
  PRIMARY KEY (id),
  CONSTRAINT fk_codes_reinitialisation_utilisateur FOREIGN KEY(utilisateur_id) REFERENCES utilisateurs (id) ON DELETE CASCADE,
  CONSTRAINT fk_codes_reinitialisation_emis_par FOREIGN KEY(emis_par_id) REFERENCES utilisateurs (id) ON DELETE SET NULL,
  INDEX idx_codes_reinitialisation_emis_par (emis_par_id),
  INDEX idx_codes_reinitialisation_utilisateur_hash (utilisateur_id, code_hash)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS courriels_sortants (
  id INTEGER NOT NULL AUTO_INCREMENT,
  utilisateur_id INTEGER,
  to_address VARCHAR(254) NOT NULL,
  to_name VARCHAR(80) NOT NULL DEFAULT '',
  subject VARCHAR(255) NOT NULL,
  body TEXT NOT NULL,
  about VARCHAR(40) NOT NULL DEFAULT '',
  created_at DATETIME NOT NULL,
  attempts INTEGER NOT NULL DEFAULT '0',
  next_attempt_at DATETIME NOT NULL,
  sent_at DATETIME,
  failed_at DATETIME,
  last_error VARCHAR(500) NOT NULL DEFAULT '',
  claimed_by VARCHAR(64) NOT NULL DEFAULT '',
  claimed_until DATETIME,
  PRIMARY KEY (id),
  CONSTRAINT fk_courriels_sortants_utilisateur FOREIGN KEY(utilisateur_id) REFERENCES utilisateurs (id) ON DELETE SET NULL,
  INDEX idx_courriels_sortants_attente (sent_at, failed_at, next_attempt_at),
  INDEX idx_courriels_sortants_utilisateur_sujet (utilisateur_id, about)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS journal_audit (
  id INTEGER NOT NULL AUTO_INCREMENT,
  created_at DATETIME NOT NULL,
  evenement VARCHAR(40) NOT NULL,
  adresse VARCHAR(64) NOT NULL DEFAULT '',
  compte VARCHAR(254) NOT NULL DEFAULT '',
  utilisateur_id INTEGER,
  details VARCHAR(500) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  CONSTRAINT fk_journal_audit_utilisateur FOREIGN KEY(utilisateur_id) REFERENCES utilisateurs (id) ON DELETE SET NULL,
  INDEX idx_journal_audit_adresse_date (adresse, created_at),
  INDEX idx_journal_audit_compte_date (compte, created_at),
  INDEX idx_journal_audit_evenement_date (evenement, created_at),
  INDEX idx_journal_audit_utilisateur (utilisateur_id)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS reponses_types (
  id INTEGER NOT NULL AUTO_INCREMENT,
  titre VARCHAR(80) NOT NULL,
  texte TEXT NOT NULL,
  statut_id INTEGER,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_reponses_types_titre UNIQUE (titre),
  CONSTRAINT fk_reponses_types_statut FOREIGN KEY(statut_id) REFERENCES statut (id) ON DELETE RESTRICT,
  INDEX idx_reponses_types_statut (statut_id)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS reseaux_lieux (
  id INTEGER NOT NULL AUTO_INCREMENT,
  lieu_id INTEGER NOT NULL,
  reseau VARCHAR(49) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT uq_reseaux_lieux_reseau UNIQUE (reseau),
  CONSTRAINT fk_reseaux_lieux_lieu FOREIGN KEY(lieu_id) REFERENCES lieux (id) ON DELETE CASCADE,
  INDEX idx_reseaux_lieux_lieu (lieu_id)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS verifications_email (
  id INTEGER NOT NULL AUTO_INCREMENT,
  utilisateur_id INTEGER NOT NULL,
  email VARCHAR(254) NOT NULL,
  code_hash CHAR(64) NOT NULL,
  created_at DATETIME NOT NULL,
  expires_at DATETIME NOT NULL,
  used_at DATETIME,
  essais INTEGER NOT NULL DEFAULT '0',
  PRIMARY KEY (id),
  CONSTRAINT fk_verifications_email_utilisateur FOREIGN KEY(utilisateur_id) REFERENCES utilisateurs (id) ON DELETE CASCADE,
  INDEX idx_verifications_email_utilisateur (utilisateur_id)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS tickets (
  id INTEGER NOT NULL AUTO_INCREMENT,
  titre VARCHAR(120) NOT NULL,
  description TEXT NOT NULL,
  urgence ENUM('Faible','Moyenne','Haute') NOT NULL,
  auteur_id INTEGER NOT NULL,
  statut_id INTEGER NOT NULL,
  created_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  assigne_id INTEGER,
  categorie_id INTEGER,
  lieu_id INTEGER,
  echeance DATETIME,
  pause_depuis DATETIME,
  resolu_depuis DATETIME,
  suite_de INTEGER,
  PRIMARY KEY (id),
  CONSTRAINT fk_tickets_auteur FOREIGN KEY(auteur_id) REFERENCES utilisateurs (id) ON DELETE CASCADE,
  CONSTRAINT fk_tickets_statut FOREIGN KEY(statut_id) REFERENCES statut (id) ON DELETE RESTRICT,
  CONSTRAINT fk_tickets_assigne FOREIGN KEY(assigne_id) REFERENCES utilisateurs (id) ON DELETE SET NULL,
  CONSTRAINT fk_tickets_categorie FOREIGN KEY(categorie_id) REFERENCES categories (id) ON DELETE RESTRICT,
  CONSTRAINT fk_tickets_lieu FOREIGN KEY(lieu_id) REFERENCES lieux (id) ON DELETE RESTRICT,
  CONSTRAINT fk_tickets_suite_de FOREIGN KEY(suite_de) REFERENCES tickets (id) ON DELETE SET NULL,
  INDEX idx_tickets_assigne_statut (assigne_id, statut_id),
  INDEX idx_tickets_auteur_date (auteur_id, created_at),
  INDEX idx_tickets_categorie_date (categorie_id, created_at),
  INDEX idx_tickets_date (created_at),
  INDEX idx_tickets_date_categorie (created_at, categorie_id),
  INDEX idx_tickets_lieu_date (lieu_id, created_at),
  INDEX idx_tickets_statut_echeance (statut_id, echeance),
  INDEX idx_tickets_statut_resolu (statut_id, resolu_depuis),
  INDEX idx_tickets_statut_urgence_date (statut_id, urgence, created_at),
  INDEX idx_tickets_suite_de (suite_de)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS avis (
  ticket_id INTEGER NOT NULL,
  utilisateur_id INTEGER NOT NULL,
  note SMALLINT,
  commentaire TEXT,
  passe BOOL NOT NULL DEFAULT false,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (ticket_id),
  CONSTRAINT ck_avis_note CHECK (note IS NULL OR (note >= 1 AND note <= 5)),
  CONSTRAINT ck_avis_passe CHECK ((passe = 1 AND note IS NULL) OR (passe = 0 AND note IS NOT NULL)),
  CONSTRAINT fk_avis_ticket FOREIGN KEY(ticket_id) REFERENCES tickets (id) ON DELETE CASCADE,
  CONSTRAINT fk_avis_utilisateur FOREIGN KEY(utilisateur_id) REFERENCES utilisateurs (id) ON DELETE CASCADE,
  INDEX idx_avis_date_note (created_at, note),
  INDEX idx_avis_utilisateur (utilisateur_id)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS historique (
  id INTEGER NOT NULL AUTO_INCREMENT,
  ticket_id INTEGER NOT NULL,
  acteur_id INTEGER,
  acteur_nom VARCHAR(80) NOT NULL,
  action VARCHAR(40) NOT NULL,
  ancien_statut_id INTEGER,
  nouveau_statut_id INTEGER,
  details TEXT,
  created_at DATETIME NOT NULL,
  interne BOOL NOT NULL DEFAULT false,
  PRIMARY KEY (id),
  CONSTRAINT fk_historique_ticket FOREIGN KEY(ticket_id) REFERENCES tickets (id) ON DELETE CASCADE,
  CONSTRAINT fk_historique_acteur FOREIGN KEY(acteur_id) REFERENCES utilisateurs (id) ON DELETE SET NULL,
  CONSTRAINT fk_historique_ancien_statut FOREIGN KEY(ancien_statut_id) REFERENCES statut (id) ON DELETE RESTRICT,
  CONSTRAINT fk_historique_nouveau_statut FOREIGN KEY(nouveau_statut_id) REFERENCES statut (id) ON DELETE RESTRICT,
  INDEX idx_historique_acteur (acteur_id),
  INDEX idx_historique_ancien_statut (ancien_statut_id),
  INDEX idx_historique_nouveau_statut (nouveau_statut_id),
  INDEX idx_historique_ticket_date (ticket_id, created_at)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS lectures (
  utilisateur_id INTEGER NOT NULL,
  ticket_id INTEGER NOT NULL,
  dernier_historique_id INTEGER NOT NULL,
  PRIMARY KEY (utilisateur_id, ticket_id),
  CONSTRAINT fk_lectures_utilisateur FOREIGN KEY(utilisateur_id) REFERENCES utilisateurs (id) ON DELETE CASCADE,
  CONSTRAINT fk_lectures_ticket FOREIGN KEY(ticket_id) REFERENCES tickets (id) ON DELETE CASCADE,
  INDEX idx_lectures_ticket (ticket_id)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS pieces_jointes (
  id INTEGER NOT NULL AUTO_INCREMENT,
  ticket_id INTEGER NOT NULL,
  nom VARCHAR(120) NOT NULL,
  taille BIGINT NOT NULL DEFAULT '0',
  sha256 VARCHAR(64) NOT NULL DEFAULT '',
  type_contenu VARCHAR(80) NOT NULL DEFAULT '',
  auteur_id INTEGER,
  auteur_nom VARCHAR(80) NOT NULL,
  complet BOOL NOT NULL DEFAULT false,
  created_at DATETIME NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT fk_pieces_jointes_ticket FOREIGN KEY(ticket_id) REFERENCES tickets (id) ON DELETE CASCADE,
  CONSTRAINT fk_pieces_jointes_auteur FOREIGN KEY(auteur_id) REFERENCES utilisateurs (id) ON DELETE SET NULL,
  INDEX idx_pieces_jointes_auteur_date (auteur_id, created_at),
  INDEX idx_pieces_jointes_ticket_nom (ticket_id, nom)
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS pieces_jointes_blocs (
  piece_id INTEGER NOT NULL,
  numero INTEGER NOT NULL,
  donnees MEDIUMBLOB NOT NULL,
  PRIMARY KEY (piece_id, numero),
  CONSTRAINT fk_pieces_jointes_blocs_piece FOREIGN KEY(piece_id) REFERENCES pieces_jointes (id) ON DELETE CASCADE
) ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

INSERT IGNORE INTO statut (id, libelle) VALUES (1, 'En attente'), (2, 'En cours'), (3, 'Résolu'), (4, 'Fermé');

INSERT IGNORE INTO categories (id, nom, active) VALUES (1, 'Matériel', true), (2, 'Accès à la plateforme', true), (3, 'Réseau / Wi-Fi', true), (4, 'Salles et vidéoprojecteurs', true), (5, 'Logiciels', true), (6, 'Compte et mot de passe', true), (7, 'Autre', true);
