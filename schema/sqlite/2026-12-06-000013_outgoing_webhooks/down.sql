DROP TABLE webhook_deliveries;
DROP TABLE outgoing_webhooks;
