#!/usr/bin/env python3
"""Writes migrations/ of the benchmark schema: a SaaS back office grown over ~75 migrations
(tables, later ALTERs adding columns, indexes and foreign keys, seed data, a view, a trigger).
Run it from this directory; its output is committed, so it only needs running after a change."""
import os

OUT = "migrations"
files = []

def add(name, sql):
    files.append((name, sql.strip() + "\n"))

# (table, parents, extra columns)
TABLES = [
    ("countries", [], "code CHAR(2) NOT NULL UNIQUE, name VARCHAR(100) NOT NULL"),
    ("currencies", [], "code CHAR(3) NOT NULL UNIQUE, name VARCHAR(50) NOT NULL, decimals TINYINT NOT NULL DEFAULT 2"),
    ("tax_rates", ["countries"], "name VARCHAR(50) NOT NULL, rate_bp INT NOT NULL"),
    ("organizations", ["countries", "currencies"], "name VARCHAR(200) NOT NULL, slug VARCHAR(100) NOT NULL UNIQUE"),
    ("users", ["organizations"], "email VARCHAR(254) NOT NULL UNIQUE, name VARCHAR(200) NOT NULL"),
    ("roles", [], "name VARCHAR(50) NOT NULL UNIQUE"),
    ("permissions", [], "code VARCHAR(80) NOT NULL UNIQUE"),
    ("role_permissions", ["roles", "permissions"], "granted TINYINT(1) NOT NULL DEFAULT 1"),
    ("user_roles", ["users", "roles"], "since DATE NULL"),
    ("teams", ["organizations"], "name VARCHAR(100) NOT NULL"),
    ("team_members", ["teams", "users"], "lead TINYINT(1) NOT NULL DEFAULT 0"),
    ("projects", ["organizations", "teams"], "name VARCHAR(200) NOT NULL"),
    ("project_members", ["projects", "users"], "role VARCHAR(20) NOT NULL DEFAULT 'member'"),
    ("milestones", ["projects"], "title VARCHAR(200) NOT NULL, due_on DATE NULL"),
    ("sprints", ["projects"], "name VARCHAR(100) NOT NULL, starts_on DATE NULL"),
    ("labels", ["organizations"], "name VARCHAR(50) NOT NULL, color CHAR(7) NOT NULL DEFAULT '#cccccc'"),
    ("tasks", ["projects", "users", "milestones"], "title VARCHAR(300) NOT NULL, status VARCHAR(20) NOT NULL DEFAULT 'open'"),
    ("task_labels", ["tasks", "labels"], "added_at TIMESTAMP NULL"),
    ("task_comments", ["tasks", "users"], "body TEXT NOT NULL"),
    ("sprint_tasks", ["sprints", "tasks"], "points INT NULL"),
    ("attachments", ["tasks", "users"], "file_name VARCHAR(255) NOT NULL, bytes BIGINT NOT NULL DEFAULT 0"),
    ("time_entries", ["tasks", "users"], "minutes INT NOT NULL"),
    ("customers", ["organizations", "countries"], "name VARCHAR(200) NOT NULL"),
    ("contacts", ["customers"], "email VARCHAR(254) NOT NULL, name VARCHAR(200) NOT NULL"),
    ("addresses", ["customers", "countries"], "line1 VARCHAR(200) NOT NULL, city VARCHAR(100) NOT NULL"),
    ("products", ["organizations"], "sku VARCHAR(40) NOT NULL UNIQUE, name VARCHAR(200) NOT NULL"),
    ("product_prices", ["products", "currencies"], "amount_cents BIGINT NOT NULL"),
    ("warehouses", ["countries"], "name VARCHAR(100) NOT NULL"),
    ("stock_levels", ["products", "warehouses"], "quantity INT NOT NULL DEFAULT 0"),
    ("orders", ["customers", "currencies"], "placed_at TIMESTAMP NULL, total_cents BIGINT NOT NULL DEFAULT 0"),
    ("order_lines", ["orders", "products"], "quantity INT NOT NULL, unit_cents BIGINT NOT NULL"),
    ("payments", ["orders", "currencies"], "amount_cents BIGINT NOT NULL"),
    ("refunds", ["payments"], "amount_cents BIGINT NOT NULL, reason VARCHAR(200) NULL"),
    ("shipments", ["orders", "warehouses", "addresses"], "shipped_at TIMESTAMP NULL"),
    ("shipment_items", ["shipments", "order_lines"], "quantity INT NOT NULL"),
    ("invoices", ["customers", "currencies"], "number VARCHAR(30) NOT NULL UNIQUE, issued_on DATE NULL"),
    ("invoice_lines", ["invoices", "products", "tax_rates"], "quantity INT NOT NULL, unit_cents BIGINT NOT NULL"),
    ("suppliers", ["organizations", "countries"], "name VARCHAR(200) NOT NULL"),
    ("purchase_orders", ["suppliers", "warehouses"], "ordered_on DATE NULL"),
    ("purchase_order_lines", ["purchase_orders", "products"], "quantity INT NOT NULL"),
    ("audit_events", ["organizations", "users"], "action VARCHAR(80) NOT NULL, detail VARCHAR(500) NULL"),
    ("notifications", ["users"], "message VARCHAR(500) NOT NULL, read_at TIMESTAMP NULL"),
    ("settings", [], "name VARCHAR(100) NOT NULL UNIQUE, value VARCHAR(500) NOT NULL"),
    ("feature_flags", [], "name VARCHAR(100) NOT NULL UNIQUE, enabled TINYINT(1) NOT NULL DEFAULT 0"),
    ("api_keys", ["organizations", "users"], "prefix CHAR(8) NOT NULL, hash CHAR(64) NOT NULL"),
    ("webhooks", ["organizations"], "url VARCHAR(500) NOT NULL"),
    ("webhook_deliveries", ["webhooks"], "status INT NOT NULL, attempt INT NOT NULL DEFAULT 1"),
]

def fk_col(parent):
    return {"countries": "country_id", "currencies": "currency_id", "addresses": "address_id"}.get(
        parent, parent[:-1] + "_id" if parent.endswith("s") else parent + "_id")

# Foreign keys added later, by ALTER, rather than in CREATE TABLE.
LATE_FK = {("tasks", "milestones"), ("shipments", "addresses"), ("invoice_lines", "tax_rates"),
           ("projects", "teams"), ("orders", "currencies"), ("audit_events", "users")}

n = 0
def name(desc):
    global n
    n += 1
    return f"{20240100000000 + n * 100}_{desc}.sql"

fk_count = 0
late = []
for table, parents, cols in TABLES:
    lines = ["    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY"]
    cons = []
    for p in parents:
        c = fk_col(p)
        nullable = "NULL" if (table, p) in LATE_FK or p in ("milestones", "teams", "addresses") else "NOT NULL"
        lines.append(f"    {c} BIGINT UNSIGNED {nullable}")
        if (table, p) in LATE_FK:
            late.append((table, p, c))
        else:
            on_delete = " ON DELETE CASCADE" if nullable == "NOT NULL" and p not in ("countries", "currencies", "roles", "permissions") else ""
            cons.append(f"    CONSTRAINT fk_{table}_{c} FOREIGN KEY ({c}) REFERENCES {p} (id){on_delete}")
            fk_count += 1
    for col in cols.split(", "):
        lines.append("    " + col)
    lines.append("    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP")
    body = ",\n".join(lines + cons)
    add(name(f"create_{table}"), f"CREATE TABLE {table} (\n{body}\n) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;")

# Seed data.
add(name("seed_countries"), "INSERT INTO countries (code, name) VALUES " + ", ".join(
    f"('{c}', '{nm}')" for c, nm in [("US", "United States"), ("GB", "United Kingdom"), ("DE", "Germany"), ("FR", "France"),
        ("NL", "Netherlands"), ("ES", "Spain"), ("IT", "Italy"), ("SE", "Sweden"), ("NO", "Norway"), ("DK", "Denmark"),
        ("PL", "Poland"), ("PT", "Portugal"), ("IE", "Ireland"), ("CA", "Canada"), ("MX", "Mexico"), ("BR", "Brazil"),
        ("JP", "Japan"), ("AU", "Australia"), ("NZ", "New Zealand"), ("IN", "India")]) + ";")
add(name("seed_currencies"), "INSERT INTO currencies (code, name, decimals) VALUES ('USD', 'US dollar', 2), ('EUR', 'Euro', 2), "
    "('GBP', 'Pound sterling', 2), ('JPY', 'Yen', 0), ('SEK', 'Swedish krona', 2), ('NOK', 'Norwegian krone', 2), "
    "('DKK', 'Danish krone', 2), ('PLN', 'Zloty', 2), ('CAD', 'Canadian dollar', 2), ('AUD', 'Australian dollar', 2);")
add(name("seed_tax_rates"), "INSERT INTO tax_rates (country_id, name, rate_bp) SELECT id, 'standard', 2000 FROM countries WHERE code IN ('GB', 'FR', 'AT');\n"
    "INSERT INTO tax_rates (country_id, name, rate_bp) SELECT id, 'standard', 1900 FROM countries WHERE code = 'DE';\n"
    "INSERT INTO tax_rates (country_id, name, rate_bp) SELECT id, 'reduced', 700 FROM countries WHERE code = 'DE';")
add(name("seed_roles_permissions"), "INSERT INTO roles (name) VALUES ('owner'), ('admin'), ('member'), ('viewer');\n"
    "INSERT INTO permissions (code) VALUES " + ", ".join(f"('{p}')" for p in [
        "projects.read", "projects.write", "tasks.read", "tasks.write", "billing.read", "billing.write",
        "users.read", "users.write", "settings.read", "settings.write", "reports.read", "api.manage"]) + ";\n"
    "INSERT INTO role_permissions (role_id, permission_id) SELECT r.id, p.id FROM roles r JOIN permissions p "
    "WHERE r.name IN ('owner', 'admin') OR (r.name = 'member' AND p.code LIKE '%.read') OR (r.name = 'member' AND p.code = 'tasks.write') "
    "OR (r.name = 'viewer' AND p.code IN ('projects.read', 'tasks.read'));")
add(name("seed_default_organization"), "INSERT INTO organizations (country_id, currency_id, name, slug) "
    "SELECT c.id, cur.id, 'Default', 'default' FROM countries c, currencies cur WHERE c.code = 'US' AND cur.code = 'USD';\n"
    "INSERT INTO users (organization_id, email, name) SELECT id, 'admin@example.org', 'Admin' FROM organizations WHERE slug = 'default';\n"
    "INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r WHERE u.email = 'admin@example.org' AND r.name = 'owner';")
add(name("seed_warehouses_settings_flags"), "INSERT INTO warehouses (country_id, name) SELECT id, CONCAT('Main ', code) FROM countries WHERE code IN ('US', 'DE', 'GB');\n"
    "INSERT INTO settings (name, value) VALUES ('invoice.prefix', 'INV-'), ('invoice.next', '1000'), ('tasks.default_status', 'open'), "
    "('mail.from', 'noreply@example.org'), ('locale', 'en');\n"
    "INSERT INTO feature_flags (name, enabled) VALUES ('new_dashboard', 1), ('beta_reports', 0), ('webhooks_v2', 0), ('sso', 1);")

# Grown over time: new columns, indexes, the foreign keys added late.
alters = [
    ("users", "ADD COLUMN last_login_at TIMESTAMP NULL"),
    ("users", "ADD COLUMN locale VARCHAR(10) NOT NULL DEFAULT 'en'"),
    ("tasks", "ADD COLUMN priority TINYINT NOT NULL DEFAULT 3, ADD KEY tasks_status_priority (status, priority)"),
    ("tasks", "ADD COLUMN due_on DATE NULL"),
    ("projects", "ADD COLUMN archived TINYINT(1) NOT NULL DEFAULT 0"),
    ("orders", "ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'new', ADD KEY orders_status (status)"),
    ("customers", "ADD COLUMN vat_number VARCHAR(40) NULL"),
    ("products", "ADD COLUMN active TINYINT(1) NOT NULL DEFAULT 1"),
    ("invoices", "ADD COLUMN paid_on DATE NULL"),
    ("notifications", "ADD KEY notifications_unread (user_id, read_at)"),
    ("audit_events", "ADD KEY audit_events_action (action, created_at)"),
    ("contacts", "ADD UNIQUE KEY contacts_customer_email (customer_id, email)"),
    ("time_entries", "ADD COLUMN billable TINYINT(1) NOT NULL DEFAULT 1"),
    ("stock_levels", "ADD UNIQUE KEY stock_levels_product_warehouse (product_id, warehouse_id)"),
    ("webhook_deliveries", "ADD COLUMN response_ms INT NULL"),
    ("order_lines", "ADD CONSTRAINT order_lines_quantity_positive CHECK (quantity > 0)"),
    ("product_prices", "ADD CONSTRAINT product_prices_nonnegative CHECK (amount_cents >= 0)"),
    ("users", "MODIFY name VARCHAR(250) NOT NULL"),
]
for table, change in alters:
    add(name(f"alter_{table}"), f"ALTER TABLE {table} {change};")
for table, parent, col in late:
    add(name(f"fk_{table}_{parent}"), f"ALTER TABLE {table} ADD CONSTRAINT fk_{table}_{col} FOREIGN KEY ({col}) REFERENCES {parent} (id);")
    fk_count += 1

add(name("view_project_task_counts"), "CREATE VIEW project_task_counts AS\n"
    "SELECT p.id AS project_id, p.name AS project, COUNT(t.id) AS tasks,\n"
    "       SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END) AS done\n"
    "FROM projects p LEFT JOIN tasks t ON t.project_id = p.id GROUP BY p.id, p.name;")
add(name("trigger_order_totals"), "CREATE TRIGGER order_lines_total AFTER INSERT ON order_lines FOR EACH ROW\n"
    "UPDATE orders SET total_cents = total_cents + NEW.quantity * NEW.unit_cents WHERE id = NEW.order_id;")

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))
for fname, sql in files:
    with open(os.path.join(OUT, fname), "w") as fh:
        fh.write(sql)
print(f"{len(files)} migrations, {len(TABLES)} tables, {fk_count} foreign keys")
