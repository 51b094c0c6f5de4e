ALTER TABLE shipping_rates ADD CONSTRAINT fk_shipping_rates_carrier_id FOREIGN KEY (carrier_id) REFERENCES carriers (id);
