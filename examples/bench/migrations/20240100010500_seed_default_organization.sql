INSERT INTO organizations (country_id, currency_id, name, slug) SELECT c.id, cur.id, 'Default', 'default' FROM countries c, currencies cur WHERE c.code = 'US' AND cur.code = 'USD';
INSERT INTO users (organization_id, email, name) SELECT id, 'admin@example.org', 'Admin' FROM organizations WHERE slug = 'default';
INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r WHERE u.email = 'admin@example.org' AND r.name = 'owner';
