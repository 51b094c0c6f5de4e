INSERT INTO warehouses (country_id, name) SELECT id, CONCAT('Main ', code) FROM countries WHERE code IN ('US', 'DE', 'GB');
INSERT INTO settings (name, value) VALUES ('invoice.prefix', 'INV-'), ('invoice.next', '1000'), ('tasks.default_status', 'open'), ('mail.from', 'noreply@example.org'), ('locale', 'en');
INSERT INTO feature_flags (name, enabled) VALUES ('new_dashboard', 1), ('beta_reports', 0), ('webhooks_v2', 0), ('sso', 1);
