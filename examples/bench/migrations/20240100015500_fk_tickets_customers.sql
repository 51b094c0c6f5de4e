ALTER TABLE tickets ADD CONSTRAINT fk_tickets_customer_id FOREIGN KEY (customer_id) REFERENCES customers (id);
