ALTER TABLE accounts ADD UNIQUE KEY accounts_org_code (organization_id, code);
