ALTER TABLE employees ADD COLUMN manager_id BIGINT UNSIGNED NULL, ADD KEY employees_manager (manager_id);
