CREATE VIEW project_task_counts AS
SELECT p.id AS project_id, p.name AS project, COUNT(t.id) AS tasks,
       SUM(CASE WHEN t.status = 'done' THEN 1 ELSE 0 END) AS done
FROM projects p LEFT JOIN tasks t ON t.project_id = p.id GROUP BY p.id, p.name;
