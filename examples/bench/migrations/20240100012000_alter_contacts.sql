ALTER TABLE contacts ADD UNIQUE KEY contacts_customer_email (customer_id, email);
