ALTER TABLE shipments ADD CONSTRAINT fk_shipments_address_id FOREIGN KEY (address_id) REFERENCES addresses (id);
