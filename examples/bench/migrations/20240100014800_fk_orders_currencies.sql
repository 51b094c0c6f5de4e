ALTER TABLE orders ADD CONSTRAINT fk_orders_currency_id FOREIGN KEY (currency_id) REFERENCES currencies (id);
