DROP TABLE carrier_account_events;
DROP TABLE carrier_accounts;
