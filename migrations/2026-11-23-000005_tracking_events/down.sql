DROP TABLE intelipost_nfe_mappings;
DROP TABLE intelipost_integration_events;
DROP TABLE intelipost_integrations;
DROP INDEX trackings_unconfirmed_by_merchant;
DROP TABLE tracking_events;
