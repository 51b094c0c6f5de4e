ALTER TABLE stock_levels ADD UNIQUE KEY stock_levels_product_warehouse (product_id, warehouse_id);
