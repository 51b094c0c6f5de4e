INSERT INTO tax_rates (country_id, name, rate_bp) SELECT id, 'standard', 2000 FROM countries WHERE code IN ('GB', 'FR', 'AT');
INSERT INTO tax_rates (country_id, name, rate_bp) SELECT id, 'standard', 1900 FROM countries WHERE code = 'DE';
INSERT INTO tax_rates (country_id, name, rate_bp) SELECT id, 'reduced', 700 FROM countries WHERE code = 'DE';
