CREATE VIEW book_sales AS
SELECT b.id AS book_id,
       b.title AS title,
       COALESCE(SUM(CASE WHEN o.status <> 'cancelled' THEN oi.quantity END), 0) AS units_sold,
       COALESCE(SUM(CASE WHEN o.status <> 'cancelled' THEN oi.quantity * oi.unit_price_cents END), 0) AS revenue_cents
FROM books b
LEFT JOIN order_items oi ON oi.book_id = b.id
LEFT JOIN orders o ON o.id = oi.order_id
GROUP BY b.id, b.title;
