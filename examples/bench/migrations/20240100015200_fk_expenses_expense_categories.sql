ALTER TABLE expenses ADD CONSTRAINT fk_expenses_expense_category_id FOREIGN KEY (expense_category_id) REFERENCES expense_categories (id);
