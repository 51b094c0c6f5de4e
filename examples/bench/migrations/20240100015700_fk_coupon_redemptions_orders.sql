ALTER TABLE coupon_redemptions ADD CONSTRAINT fk_coupon_redemptions_order_id FOREIGN KEY (order_id) REFERENCES orders (id);
