CREATE TABLE accounts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(254) NOT NULL UNIQUE,
    plan VARCHAR(20) NOT NULL DEFAULT 'free'
);
INSERT INTO accounts (email, plan) VALUES ('founder@example.org', 'pro');
