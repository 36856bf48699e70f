package rest

// ConnectorResources exposes connectorResources to the black-box tests.
var ConnectorResources = connectorResources
