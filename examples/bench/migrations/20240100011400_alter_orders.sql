ALTER TABLE orders ADD COLUMN status VARCHAR(20) NOT NULL DEFAULT 'new', ADD KEY orders_status (status);
