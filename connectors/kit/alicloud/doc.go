// Package alicloud is what Ferry's Alibaba Cloud connectors (sls, mns)
// share instead of copying: the connection settings every Alibaba service
// takes (the access key, an STS token, where to connect, how long a
// request may take, and the signature version where a service offers
// one), their checks, the credentials they hold, an HTTP transport that
// honours a call's ctx and connect.address, and the triage of a service's
// error codes onto the kit's classes.
//
// A connector declares its own endpoint field (each service's endpoint has
// its own shape), then appends KeyFields, SignatureFields when its SDK can
// sign more than one way, and RouteFields; it reads them back with
// SettingsOf and checks what spans fields with ValidateSignature. Its
// error codes go in a Codes table, whose Triage it hands the kit.
package alicloud
