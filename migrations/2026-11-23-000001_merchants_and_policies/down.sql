DROP TABLE policies;
DROP TABLE merchants;
