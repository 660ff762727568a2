/* SPDX-License-Identifier: MIT */
// bench/peers/node-red/settings.js - Node-RED as the bench runs it: headless
// (no editor, no HTTP nodes, so no HTTP server at all), and were anything to
// listen, it would be on 127.0.0.1 only.  The broker port and the QoS come from
// the environment (MQB_PORT, MQB_QOS) through ${...} properties in flows.json.
module.exports = {
    flowFile: 'flows.json',
    userDir: process.env.MQB_NR_USERDIR,
    uiHost: '127.0.0.1',
    uiPort: 0,
    httpAdminRoot: false,
    httpNodeRoot: false,
    disableEditor: true,
    credentialSecret: false,
    flowFilePretty: true,
    logging: { console: { level: 'warn', metrics: false, audit: false } },
    exportGlobalContextKeys: false,
    externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
    functionExternalModules: false,
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    runtimeState: { enabled: false },
    editorTheme: { projects: { enabled: false } }
};
