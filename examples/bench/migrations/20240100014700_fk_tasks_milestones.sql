ALTER TABLE tasks ADD CONSTRAINT fk_tasks_milestone_id FOREIGN KEY (milestone_id) REFERENCES milestones (id);
