ALTER TABLE product_prices ADD CONSTRAINT product_prices_nonnegative CHECK (amount_cents >= 0);
