DROP TABLE bulk_job_rows;
DROP TABLE bulk_jobs;
