ALTER TABLE leads ADD KEY leads_email (email);
