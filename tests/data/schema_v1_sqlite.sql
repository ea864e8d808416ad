CREATE TABLE utilisateurs (
	id INTEGER NOT NULL, 
	nom VARCHAR(80) NOT NULL, 
	email VARCHAR(254) NOT NULL, 
	mot_de_passe VARCHAR(60) NOT NULL, 
	role VARCHAR(11) DEFAULT 'utilisateur' NOT NULL, 
	echecs_connexion INTEGER DEFAULT '0' NOT NULL, 
	dernier_echec DATETIME, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_utilisateurs_email UNIQUE (email), 
	CONSTRAINT role CHECK (role IN ('utilisateur', 'admin'))
);

CREATE TABLE statut (
	id INTEGER NOT NULL, 
	libelle VARCHAR(20) NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_statut_libelle UNIQUE (libelle)
);

CREATE TABLE tickets (
	id INTEGER NOT NULL, 
	titre VARCHAR(120) NOT NULL, 
	description TEXT NOT NULL, 
	urgence VARCHAR(7) NOT NULL, 
	auteur_id INTEGER NOT NULL, 
	statut_id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	updated_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT urgence CHECK (urgence IN ('Faible', 'Moyenne', 'Haute')), 
	CONSTRAINT fk_tickets_auteur FOREIGN KEY(auteur_id) REFERENCES utilisateurs (id) ON DELETE CASCADE, 
	CONSTRAINT fk_tickets_statut FOREIGN KEY(statut_id) REFERENCES statut (id) ON DELETE RESTRICT
);

CREATE INDEX idx_tickets_auteur_date ON tickets (auteur_id, created_at);

CREATE INDEX idx_tickets_date ON tickets (created_at);

CREATE INDEX idx_tickets_statut_urgence_date ON tickets (statut_id, urgence, created_at);

CREATE TABLE historique (
	id INTEGER NOT NULL, 
	ticket_id INTEGER NOT NULL, 
	acteur_id INTEGER, 
	acteur_nom VARCHAR(80) NOT NULL, 
	action VARCHAR(40) NOT NULL, 
	ancien_statut_id INTEGER, 
	nouveau_statut_id INTEGER, 
	details TEXT, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT fk_historique_ticket FOREIGN KEY(ticket_id) REFERENCES tickets (id) ON DELETE CASCADE, 
	CONSTRAINT fk_historique_acteur FOREIGN KEY(acteur_id) REFERENCES utilisateurs (id) ON DELETE SET NULL, 
	CONSTRAINT fk_historique_ancien_statut FOREIGN KEY(ancien_statut_id) REFERENCES statut (id) ON DELETE RESTRICT, 
	CONSTRAINT fk_historique_nouveau_statut FOREIGN KEY(nouveau_statut_id) REFERENCES statut (id) ON DELETE RESTRICT
);

CREATE INDEX idx_historique_nouveau_statut ON historique (nouveau_statut_id);

CREATE INDEX idx_historique_acteur ON historique (acteur_id);

CREATE INDEX idx_historique_ancien_statut ON historique (ancien_statut_id);

CREATE INDEX idx_historique_ticket_date ON historique (ticket_id, created_at);
