-- An application's tables, empty until a setup or fixtures fill them.
CREATE TABLE companies (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    users INT NOT NULL DEFAULT 0
) ENGINE = InnoDB;

CREATE TABLE users (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    company_id INT NOT NULL,
    email VARCHAR(100) NOT NULL UNIQUE,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    CONSTRAINT fk_users_company FOREIGN KEY (company_id) REFERENCES companies (id)
) ENGINE = InnoDB;

CREATE TABLE invoices (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    company_id INT NOT NULL,
    total DECIMAL(10, 2) NOT NULL
) ENGINE = InnoDB;

-- Who wrote the layers, and when: a session's connection id and the moment.
CREATE TABLE stamps (
    layer VARCHAR(20) NOT NULL,
    conn BIGINT NOT NULL,
    at DATETIME(6) NOT NULL
) ENGINE = InnoDB;
