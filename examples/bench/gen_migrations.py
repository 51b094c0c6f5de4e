#!/usr/bin/env python3
"""Writes migrations/ of the benchmark schema: a SaaS back office (projects, sales, finance, HR,
support, CRM) grown over ~150 migrations: 100 tables, ~170 foreign keys, later ALTERs adding
columns, indexes and foreign keys, seed rows in 16 tables, a view, triggers on five tables.
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
    # Finance, HR, support, CRM and billing: the second half of the schema.
    ("departments", ["organizations"], "name VARCHAR(100) NOT NULL"),
    ("employees", ["departments", "users"], "title VARCHAR(100) NOT NULL, hired_on DATE NULL"),
    ("salaries", ["employees", "currencies"], "amount_cents BIGINT NOT NULL, from_date DATE NOT NULL"),
    ("leave_types", [], "name VARCHAR(50) NOT NULL UNIQUE, paid TINYINT(1) NOT NULL DEFAULT 1"),
    ("leave_requests", ["employees", "leave_types"], "starts_on DATE NOT NULL, ends_on DATE NOT NULL, status VARCHAR(20) NOT NULL DEFAULT 'pending'"),
    ("timesheets", ["employees"], "week_of DATE NOT NULL"),
    ("timesheet_lines", ["timesheets", "projects"], "minutes INT NOT NULL"),
    ("expense_categories", ["organizations"], "name VARCHAR(100) NOT NULL"),
    ("expenses", ["employees", "expense_categories", "currencies"], "amount_cents BIGINT NOT NULL, spent_on DATE NOT NULL"),
    ("expense_receipts", ["expenses"], "file_name VARCHAR(255) NOT NULL"),
    ("accounts", ["organizations", "currencies"], "code VARCHAR(20) NOT NULL, name VARCHAR(200) NOT NULL"),
    ("fiscal_years", ["organizations"], "starts_on DATE NOT NULL, ends_on DATE NOT NULL"),
    ("journals", ["organizations"], "code VARCHAR(10) NOT NULL, name VARCHAR(100) NOT NULL"),
    ("journal_entries", ["journals", "fiscal_years", "users"], "posted_on DATE NOT NULL, memo VARCHAR(300) NULL"),
    ("journal_lines", ["journal_entries", "accounts"], "debit_cents BIGINT NOT NULL DEFAULT 0, credit_cents BIGINT NOT NULL DEFAULT 0"),
    ("bank_accounts", ["organizations", "currencies", "accounts"], "iban VARCHAR(34) NOT NULL"),
    ("bank_transactions", ["bank_accounts"], "amount_cents BIGINT NOT NULL, booked_on DATE NOT NULL"),
    ("reconciliations", ["bank_transactions", "journal_lines"], "matched_at TIMESTAMP NULL"),
    ("budgets", ["organizations", "fiscal_years"], "name VARCHAR(100) NOT NULL"),
    ("budget_lines", ["budgets", "accounts"], "amount_cents BIGINT NOT NULL"),
    ("ticket_queues", ["organizations"], "name VARCHAR(100) NOT NULL"),
    ("tickets", ["ticket_queues", "customers", "users"], "subject VARCHAR(300) NOT NULL, status VARCHAR(20) NOT NULL DEFAULT 'open'"),
    ("ticket_messages", ["tickets", "users"], "body TEXT NOT NULL"),
    ("ticket_tags", ["organizations"], "name VARCHAR(50) NOT NULL"),
    ("ticket_tag_links", ["tickets", "ticket_tags"], "added_at TIMESTAMP NULL"),
    ("sla_policies", ["organizations"], "name VARCHAR(100) NOT NULL, response_minutes INT NOT NULL"),
    ("ticket_sla", ["tickets", "sla_policies"], "due_at TIMESTAMP NULL"),
    ("kb_categories", ["organizations"], "name VARCHAR(100) NOT NULL"),
    ("kb_articles", ["kb_categories", "users"], "title VARCHAR(300) NOT NULL, body TEXT NOT NULL"),
    ("kb_article_versions", ["kb_articles", "users"], "body TEXT NOT NULL"),
    ("campaigns", ["organizations"], "name VARCHAR(200) NOT NULL, starts_on DATE NULL"),
    ("campaign_members", ["campaigns", "contacts"], "status VARCHAR(20) NOT NULL DEFAULT 'sent'"),
    ("leads", ["organizations", "users"], "email VARCHAR(254) NOT NULL, score INT NOT NULL DEFAULT 0"),
    ("lead_activities", ["leads", "users"], "kind VARCHAR(30) NOT NULL"),
    ("opportunity_stages", [], "name VARCHAR(50) NOT NULL UNIQUE, position INT NOT NULL"),
    ("opportunities", ["customers", "users", "currencies"], "name VARCHAR(200) NOT NULL, amount_cents BIGINT NOT NULL DEFAULT 0"),
    ("opportunity_history", ["opportunities", "opportunity_stages"], "changed_at TIMESTAMP NULL"),
    ("quotes", ["opportunities", "currencies"], "number VARCHAR(30) NOT NULL UNIQUE"),
    ("quote_lines", ["quotes", "products"], "quantity INT NOT NULL, unit_cents BIGINT NOT NULL"),
    ("contracts", ["customers", "quotes"], "starts_on DATE NULL, ends_on DATE NULL"),
    ("subscriptions", ["customers", "products", "currencies"], "status VARCHAR(20) NOT NULL DEFAULT 'active'"),
    ("subscription_events", ["subscriptions"], "kind VARCHAR(30) NOT NULL"),
    ("usage_records", ["subscriptions"], "quantity BIGINT NOT NULL, recorded_at TIMESTAMP NULL"),
    ("coupons", ["organizations"], "code VARCHAR(40) NOT NULL UNIQUE, percent_off INT NOT NULL"),
    ("coupon_redemptions", ["coupons", "orders"], "redeemed_at TIMESTAMP NULL"),
    ("price_lists", ["organizations", "currencies"], "name VARCHAR(100) NOT NULL"),
    ("price_list_items", ["price_lists", "products"], "amount_cents BIGINT NOT NULL"),
    ("carriers", [], "name VARCHAR(100) NOT NULL UNIQUE"),
    ("shipping_rates", ["carriers", "countries", "currencies"], "amount_cents BIGINT NOT NULL"),
    ("returns", ["orders", "users"], "reason VARCHAR(300) NULL"),
    ("return_items", ["returns", "order_lines"], "quantity INT NOT NULL"),
    ("documents", ["organizations", "users"], "title VARCHAR(300) NOT NULL"),
    ("document_shares", ["documents", "users"], "can_edit TINYINT(1) NOT NULL DEFAULT 0"),
]

def fk_col(parent):
    return {"countries": "country_id", "currencies": "currency_id", "addresses": "address_id",
            "expense_categories": "expense_category_id", "journal_entries": "journal_entry_id",
            "sla_policies": "sla_policy_id", "kb_categories": "kb_category_id",
            "opportunities": "opportunity_id", "salaries": "salary_id"}.get(
        parent, parent[:-1] + "_id" if parent.endswith("s") else parent + "_id")

# Foreign keys added later, by ALTER, rather than in CREATE TABLE.
LATE_FK = {("tasks", "milestones"), ("shipments", "addresses"), ("invoice_lines", "tax_rates"),
           ("projects", "teams"), ("orders", "currencies"), ("audit_events", "users"),
           ("tickets", "customers"), ("expenses", "expense_categories"), ("contracts", "quotes"),
           ("reconciliations", "journal_lines"), ("bank_accounts", "accounts"),
           ("shipping_rates", "carriers"), ("coupon_redemptions", "orders")}

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
        nullable = "NULL" if (table, p) in LATE_FK or p in ("milestones", "teams", "addresses", "quotes", "journal_lines") else "NOT NULL"
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

add(name("seed_leave_types_stages_carriers"), "INSERT INTO leave_types (name, paid) VALUES ('vacation', 1), ('sick', 1), ('unpaid', 0), ('parental', 1);\n"
    "INSERT INTO opportunity_stages (name, position) VALUES ('lead', 1), ('qualified', 2), ('proposal', 3), ('won', 4), ('lost', 5);\n"
    "INSERT INTO carriers (name) VALUES ('Post'), ('Express'), ('Freight');")
add(name("seed_chart_of_accounts"), "INSERT INTO accounts (organization_id, currency_id, code, name) "
    "SELECT o.id, c.id, a.code, a.name FROM organizations o, currencies c, (" + " UNION ALL ".join(
        f"SELECT '{code}' AS code, '{nm}' AS name" for code, nm in [
            ("1000", "Cash"), ("1100", "Bank"), ("1200", "Receivables"), ("1300", "Inventory"), ("1500", "Equipment"),
            ("2000", "Payables"), ("2100", "VAT payable"), ("2200", "Payroll liabilities"), ("3000", "Equity"),
            ("3100", "Retained earnings"), ("4000", "Sales"), ("4100", "Services"), ("5000", "Cost of goods"),
            ("6000", "Salaries"), ("6100", "Rent"), ("6200", "Software"), ("6300", "Travel"), ("6400", "Marketing"),
            ("7000", "Interest"), ("8000", "Taxes")]) + ") AS a WHERE o.slug = 'default' AND c.code = 'USD';")

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
    ("employees", "ADD COLUMN manager_id BIGINT UNSIGNED NULL, ADD KEY employees_manager (manager_id)"),
    ("employees", "ADD COLUMN active TINYINT(1) NOT NULL DEFAULT 1"),
    ("leave_requests", "ADD KEY leave_requests_status (status, starts_on)"),
    ("expenses", "ADD COLUMN approved_at TIMESTAMP NULL"),
    ("accounts", "ADD UNIQUE KEY accounts_org_code (organization_id, code)"),
    ("journal_entries", "ADD COLUMN reference VARCHAR(40) NULL"),
    ("journal_lines", "ADD CONSTRAINT journal_lines_one_side CHECK (debit_cents = 0 OR credit_cents = 0)"),
    ("bank_transactions", "ADD COLUMN description VARCHAR(300) NULL"),
    ("tickets", "ADD COLUMN priority TINYINT NOT NULL DEFAULT 3, ADD KEY tickets_status_priority (status, priority)"),
    ("tickets", "ADD COLUMN closed_at TIMESTAMP NULL"),
    ("ticket_messages", "ADD COLUMN internal TINYINT(1) NOT NULL DEFAULT 0"),
    ("kb_articles", "ADD COLUMN published TINYINT(1) NOT NULL DEFAULT 0"),
    ("leads", "ADD KEY leads_email (email)"),
    ("opportunities", "ADD COLUMN closes_on DATE NULL"),
    ("subscriptions", "ADD COLUMN renews_on DATE NULL"),
    ("usage_records", "ADD KEY usage_records_recorded (subscription_id, recorded_at)"),
    ("coupons", "ADD COLUMN expires_on DATE NULL"),
    ("documents", "ADD COLUMN archived TINYINT(1) NOT NULL DEFAULT 0"),
    ("returns", "ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'requested'"),
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
add(name("trigger_lead_score"), "CREATE TRIGGER leads_score BEFORE INSERT ON leads FOR EACH ROW\n"
    "SET NEW.score = GREATEST(NEW.score, 0);")
add(name("trigger_journal_posted"), "CREATE TRIGGER journal_lines_posted AFTER INSERT ON journal_lines FOR EACH ROW\n"
    "UPDATE journal_entries SET memo = COALESCE(memo, 'posted') WHERE id = NEW.journal_entry_id;")
add(name("trigger_ticket_subject"), "CREATE TRIGGER tickets_subject BEFORE UPDATE ON tickets FOR EACH ROW\n"
    "SET NEW.subject = TRIM(NEW.subject);")
add(name("trigger_subscription_events"), "CREATE TRIGGER subscriptions_status AFTER UPDATE ON subscriptions FOR EACH ROW\n"
    "INSERT INTO subscription_events (subscription_id, kind) VALUES (NEW.id, CONCAT('status:', NEW.status));")

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.remove(os.path.join(OUT, f))
for fname, sql in files:
    with open(os.path.join(OUT, fname), "w") as fh:
        fh.write(sql)
print(f"{len(files)} migrations, {len(TABLES)} tables, {fk_count} foreign keys")
