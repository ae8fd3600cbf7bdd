"use strict";
/*
 * An independent OPC UA server for the gateway's interop tests and the ingest benchmark.
 *
 * Why: the gateway's client is asyncua, and so are our simulators; with the same library on both
 * ends a codec bug is invisible (issue 9: asyncua decodes DataValue fields out of Part 6 order, which
 * only shows against a server that sends picoseconds). node-opcua is a separate implementation (the
 * stack behind many Node-RED and embedded servers) and always sends picoseconds.
 *
 *   node server.js --port 48400 --pki DIR [--user alice:secret] [--counters 10] [--counter-start 0]
 *                  [--scale 5000] [--no-types]
 *
 * Address space (namespace urn:aas-gateway:interop:nodeopcua, string node ids, see values.json):
 *   Scalars.<BuiltInType>   one variable per OPC UA built-in scalar type (Boolean .. LocalizedText)
 *   Arrays.<Type>           one-dimensional arrays of several types, and an empty one
 *   Struct.Status           a vendor structure (MachineStatusDataType with a nested ToolDataType) whose
 *                           DataTypeDefinition comes from vendor-nodeset.xml (namespace ...:vendor)
 *   Time.<Case>             Doubles whose timestamps are odd (DateTime 0 = null, year 3000, 1900 ...)
 *   Counters.Cnn            UInt32 counters: value = sequence number, so what was offered is countable
 *   Scale.Vnnnnn            Doubles for load tests (value = tick number)
 * Counters, Time and Scale variables change only when told to (a "run" command), at a given rate, a
 * given number of times: a test knows exactly what the server offered.
 *
 * Security: None, and Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss with Sign and
 * SignAndEncrypt; anonymous and user/password (--user). The server keeps its own certificate in
 * --pki (never the home folder) and accepts every client certificate (the gateway's is new each run).
 *
 * Protocol with the test (JSON lines): stdout carries {"ready": true, "endpoint": ...} once the
 * server listens, then replies and events; stdin carries commands, each answered by one line with
 * the same "id":
 *   {"cmd": "counts"}            -> {"changes": {group: n}, "values": {group: last value}, "sessions": n}
 *   {"cmd": "run", "group": "counters", "changes": 50, "rate_hz": 20}
 *        -> {"ok": true} at once, and {"event": "run-done", "group": ..., "changes": {...}} when done
 *   {"cmd": "stop-run", "group": "scale"}                -> stops a running group at the next tick
 *   {"cmd": "delete", "node": "Scalars.Double"}          -> the node is removed from the address space
 *   {"cmd": "restore", "node": "Scalars.Double"}         -> the same node (same id) is added again
 *   {"cmd": "shutdown"}                                  -> {"event": "stopped", ...}, then exit
 * SIGTERM shuts the server down too (the restart tests use it, then start it again on the same port).
 */

const fs = require("fs");
const path = require("path");
const opcua = require("node-opcua");

const {
    OPCUAServer, OPCUACertificateManager, Variant, DataType, VariantArrayType, DataValue, StatusCodes,
    SecurityPolicy, MessageSecurityMode, nodesets, getCurrentClock, coerceInt64, coerceUInt64, minOPCUADate,
    resolveNodeId, coerceLocalizedText, coerceQualifiedName, makeExpandedNodeId, StatusCode,
} = opcua;

const VALUES = JSON.parse(fs.readFileSync(path.join(__dirname, "values.json"), "utf8"));

function parseArgs(argv) {
    const args = { port: 48400, pki: null, users: {}, counters: 10, counterStart: 0, scale: 0, types: true };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => argv[++i];
        if (a === "--port") args.port = parseInt(next(), 10);
        else if (a === "--pki") args.pki = next();
        else if (a === "--user") { const s = next(); const k = s.indexOf(":"); args.users[s.slice(0, k)] = s.slice(k + 1); }
        else if (a === "--counters") args.counters = parseInt(next(), 10);
        else if (a === "--counter-start") args.counterStart = parseInt(next(), 10);
        else if (a === "--scale") args.scale = parseInt(next(), 10);
        else if (a === "--no-types") args.types = false;
        else throw new Error(`unknown argument ${a}`);
    }
    if (!args.pki) throw new Error("--pki DIR is required (the server must not write under the home folder)");
    return args;
}

function emit(obj) {
    process.stdout.write(JSON.stringify(obj) + "\n");
}

// --- values: from values.json's JSON form to node-opcua Variants ------------------------------

function scalarValue(type, v) {
    switch (type) {
        case "Int64": return coerceInt64(v);
        case "UInt64": return coerceUInt64(v);
        case "DateTime": return new Date(v);
        case "ByteString": return Buffer.from(v, "base64");
        case "NodeId": return resolveNodeId(v);
        case "ExpandedNodeId": { const n = resolveNodeId(v); return makeExpandedNodeId(n.value, n.namespace); }
        case "StatusCode": return StatusCode.makeStatusCode(v);
        case "QualifiedName": return coerceQualifiedName(v);
        case "LocalizedText": return coerceLocalizedText(v);
        default: return v; // Boolean, the small integers, Float, Double, String, Guid, XmlElement
    }
}

function arrayVariant(name, values) {
    const type = name === "Empty" ? "Double" : name;
    return new Variant({ dataType: DataType[type], arrayType: VariantArrayType.Array,
                         value: values.map((v) => scalarValue(type, v)) });
}

// --- the timestamps of the Time.* variables ---------------------------------------------------

const YEAR_3000 = new Date(Date.UTC(3000, 0, 1));
const YEAR_1900 = new Date(Date.UTC(1900, 0, 1));

/** The DataValue a Time.<case> variable holds after `n` changes; `now` is a node-opcua PreciseClock. */
function oddDataValue(kind, n, now) {
    const value = new Variant({ dataType: DataType.Double, value: n });
    const dv = { value, statusCode: StatusCodes.Good, serverTimestamp: now.timestamp,
                 serverPicoseconds: now.picoseconds, sourceTimestamp: now.timestamp,
                 sourcePicoseconds: now.picoseconds };
    switch (kind) {
        case "NullSource": dv.sourceTimestamp = minOPCUADate; dv.sourcePicoseconds = 0; break; // encodes as 0
        case "Future": dv.sourceTimestamp = YEAR_3000; break;
        case "Before1970": dv.sourceTimestamp = YEAR_1900; break;
        case "NullServer": dv.serverTimestamp = minOPCUADate; dv.serverPicoseconds = 0; break;
        case "NullBoth": // neither the device nor the server has a clock: only the receive time is left
            dv.sourceTimestamp = minOPCUADate; dv.sourcePicoseconds = 0;
            dv.serverTimestamp = minOPCUADate; dv.serverPicoseconds = 0;
            break;
        default: throw new Error(`unknown timestamp case ${kind}`);
    }
    return new DataValue(dv);
}

// --- the address space --------------------------------------------------------------------------

class Model {
    constructor(server, args) {
        this.server = server;
        this.args = args;
        this.addressSpace = server.engine.addressSpace;
        this.ns = this.addressSpace.registerNamespace(VALUES.namespace); // the machine's own namespace
        this.defs = new Map(); // node name -> function (re)creating it, for delete/restore
        this.nodes = new Map(); // node name -> UAVariable
        this.groups = new Map(); // group -> {names, changes, timer, stepper}
        this.folders = new Map();
        this.sessions = 0; // sessions created since start: a reconnecting client must not flood the server
        server.on("create_session", () => { this.sessions += 1; });
    }

    folder(name) {
        if (!this.folders.has(name)) {
            const parent = this.folders.get("root");
            this.folders.set(name, this.ns.addFolder(parent, { browseName: name, nodeId: `s=${name}` }));
        }
        return this.folders.get(name);
    }

    define(group, leaf, make) {
        const name = `${group}.${leaf}`;
        const create = () => {
            const node = make(name);
            this.nodes.set(name, node);
            return node;
        };
        this.defs.set(name, create);
        create();
        return name;
    }

    variable(name, dataType, options = {}) {
        const [group, leaf] = name.split(/\.(.*)/s);
        return this.ns.addVariable({
            componentOf: this.folder(group), browseName: leaf, nodeId: `s=${name}`, dataType,
            minimumSamplingInterval: 0, // exception-based: every change reaches a monitored item
            ...options,
        });
    }

    build() {
        const root = this.ns.addFolder(this.addressSpace.rootFolder.objects, { browseName: "Interop",
                                                                               nodeId: "s=Interop" });
        this.folders.set("root", root);
        if (this.args.types) {
            for (const [type, v] of Object.entries(VALUES.scalars)) {
                this.define("Scalars", type, (name) => {
                    const node = this.variable(name, type);
                    node.setValueFromSource(new Variant({ dataType: DataType[type], arrayType: VariantArrayType.Scalar,
                                                          value: scalarValue(type, v) }));
                    return node;
                });
            }
            for (const [type, values] of Object.entries(VALUES.arrays)) {
                this.define("Arrays", type, (name) => {
                    const dataType = type === "Empty" ? "Double" : type;
                    const node = this.variable(name, dataType, { valueRank: 1, arrayDimensions: [0] });
                    node.setValueFromSource(arrayVariant(type, values));
                    return node;
                });
            }
            this.buildStructure();
            const timeNames = Object.keys(VALUES.timestamps).filter((k) => !k.startsWith("_")).map(
                (kind) => this.define("Time", kind, (name) => {
                    const node = this.variable(name, "Double");
                    node._internal_set_dataValue(oddDataValue(kind, 0, getCurrentClock()));
                    return node;
                }));
            this.group("time", timeNames, 0, (name, n, now) => {
                this.nodes.get(name)._internal_set_dataValue(oddDataValue(name.split(".")[1], n, now));
            });
        }
        const counters = [];
        for (let i = 0; i < this.args.counters; i++) {
            counters.push(this.define("Counters", `C${String(i).padStart(2, "0")}`, (name) => {
                const node = this.variable(name, "UInt32");
                const g = this.groups.get("counters"); // a restored node has the value the others have now
                const value = g ? g.value : this.args.counterStart;
                node.setValueFromSource(new Variant({ dataType: DataType.UInt32, value }));
                return node;
            }));
        }
        // setValueFromSource stamps source and server time with node-opcua's clock, picoseconds included
        this.group("counters", counters, this.args.counterStart, (name, n) => {
            this.nodes.get(name).setValueFromSource(new Variant({ dataType: DataType.UInt32, value: n }));
        });
        const scale = [];
        for (let i = 0; i < this.args.scale; i++) {
            scale.push(this.define("Scale", `V${String(i).padStart(5, "0")}`, (name) => {
                const node = this.variable(name, "Double");
                node.setValueFromSource(new Variant({ dataType: DataType.Double, value: 0 }));
                return node;
            }));
        }
        this.group("scale", scale, 0, (name, n) => {
            this.nodes.get(name).setValueFromSource(new Variant({ dataType: DataType.Double, value: n }));
        });
    }

    buildStructure() {
        const vendor = this.addressSpace.getNamespaceIndex(VALUES.vendor_namespace);
        const statusType = this.addressSpace.findDataType("MachineStatusDataType", vendor);
        const toolType = this.addressSpace.findDataType("ToolDataType", vendor);
        if (!statusType || !toolType) throw new Error("vendor-nodeset.xml did not load its data types");
        this.define("Struct", "Status", (name) => {
            const node = this.variable(name, statusType.nodeId);
            const s = VALUES.structure;
            const value = this.addressSpace.constructExtensionObject(statusType, {
                temperature: s.Temperature, partCount: s.PartCount, program: s.Program, running: s.Running,
                tool: this.addressSpace.constructExtensionObject(toolType, { id: s.Tool.Id, wear: s.Tool.Wear }),
            });
            node.setValueFromSource(new Variant({ dataType: DataType.ExtensionObject, value }));
            return node;
        });
    }

    /** A group of variables that change together, `changes` counting what was offered per variable. */
    group(group, names, start, set) {
        this.groups.set(group, { names, value: start, changes: 0, timer: null, set });
    }

    run(groupName, changes, rateHz, onDone) {
        const g = this.groups.get(groupName);
        if (!g) throw new Error(`unknown group ${groupName}`);
        if (g.timer) throw new Error(`group ${groupName} is running already`);
        const period = 1000 / rateHz;
        const t0 = Date.now();
        let done = 0;
        const tick = () => {
            const now = getCurrentClock();
            g.value += 1;
            for (const name of g.names) {
                if (this.nodes.has(name)) g.set(name, g.value, now); // a deleted node offers nothing
            }
            g.changes += 1;
            done += 1;
            if ((changes > 0 && done >= changes) || g.stopping) {
                g.timer = null;
                g.stopping = false;
                onDone(g);
                return;
            }
            // absolute schedule: a slow tick does not stretch the run, it shortens the next wait
            g.timer = setTimeout(tick, Math.max(0, t0 + (done + 1) * period - Date.now()));
        };
        g.timer = setTimeout(tick, period);
    }

    remove(name) {
        const node = this.nodes.get(name);
        if (!node) throw new Error(`no node ${name}`);
        this.ns.deleteNode(node);
        this.nodes.delete(name);
    }

    restore(name) {
        const create = this.defs.get(name);
        if (!create) throw new Error(`no node ${name}`);
        if (this.nodes.has(name)) throw new Error(`node ${name} exists`);
        create();
    }

    counts() {
        const changes = {};
        const values = {};
        for (const [name, g] of this.groups) {
            changes[name] = g.changes;
            values[name] = g.value;
        }
        return { changes, values, sessions: this.sessions };
    }
}

// --- the server ---------------------------------------------------------------------------------

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const pki = path.resolve(args.pki);
    fs.mkdirSync(pki, { recursive: true });
    // the gateway's certificate is new in every test: accept whatever client connects
    const serverCertificateManager = new OPCUACertificateManager({
        automaticallyAcceptUnknownCertificate: true, rootFolder: path.join(pki, "server"),
    });
    const userCertificateManager = new OPCUACertificateManager({
        automaticallyAcceptUnknownCertificate: true, rootFolder: path.join(pki, "user"),
    });
    const users = args.users;
    const server = new OPCUAServer({
        port: args.port,
        host: "127.0.0.1", // loopback only
        hostname: "127.0.0.1",
        resourcePath: "/",
        serverCertificateManager,
        userCertificateManager,
        nodeset_filename: [nodesets.standard, path.join(__dirname, "vendor-nodeset.xml")],
        securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256, SecurityPolicy.Aes128_Sha256_RsaOaep,
                           SecurityPolicy.Aes256_Sha256_RsaPss],
        securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
        allowAnonymous: true,
        userManager: { isValidUser: (user, password) => Object.hasOwn(users, user) && users[user] === password },
        serverInfo: { applicationUri: "urn:aas-gateway:interop:nodeopcua-server",
                      productUri: "urn:aas-gateway:interop:nodeopcua", applicationName: { text: "interop-nodeopcua" } },
        buildInfo: { productName: "aas-gateway interop server (node-opcua)" },
        serverCapabilities: {
            maxSessions: 50, maxSubscriptions: 200, maxSubscriptionsPerSession: 50,
            // 0: a monitored item asking for sampling interval 0 gets every change of an exception-based
            // variable (node-opcua's default, 100 ms, folds faster changes into one); tests count them all
            minSupportedSampleRate: 0,
            maxMonitoredItems: 200000, maxMonitoredItemsPerSubscription: 100000, maxMonitoredItemsQueueSize: 10000,
        },
        maxConnectionsPerEndpoint: 50,
        isAuditing: false,
        registerServerMethod: 1, // HIDDEN: no discovery server, no multicast
    });
    await server.initialize();
    const model = new Model(server, args);
    model.build();
    await server.start();

    let stopping = false;
    const stop = async (reason) => {
        if (stopping) return;
        stopping = true;
        for (const g of model.groups.values()) if (g.timer) clearTimeout(g.timer);
        const counts = model.counts();
        await server.shutdown(0);
        emit({ event: "stopped", reason, ...counts });
        process.exit(0);
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));

    const handle = (msg) => {
        const reply = (obj) => emit({ id: msg.id, ...obj });
        try {
            switch (msg.cmd) {
                case "counts": return reply({ ok: true, ...model.counts() });
                case "run":
                    model.run(msg.group, msg.changes || 0, msg.rate_hz || 10, (g) => emit({
                        event: "run-done", id: msg.id, group: msg.group, changes: g.changes, value: g.value }));
                    return reply({ ok: true });
                case "stop-run": {
                    const g = model.groups.get(msg.group);
                    if (g && g.timer) g.stopping = true;
                    return reply({ ok: true, running: Boolean(g && g.timer) });
                }
                case "delete": model.remove(msg.node); return reply({ ok: true });
                case "restore": model.restore(msg.node); return reply({ ok: true });
                case "shutdown": reply({ ok: true }); return stop("shutdown");
                default: throw new Error(`unknown command ${msg.cmd}`);
            }
        } catch (err) {
            return reply({ ok: false, error: String(err && err.message || err) });
        }
    };
    let buffered = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (chunk) => {
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf("\n")) >= 0) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line) handle(JSON.parse(line));
        }
    });
    process.stdin.on("end", () => stop("stdin closed")); // the test process went away: do not linger

    const certificate = server.certificateFile || path.join(pki, "server", "own", "certs", "certificate.pem");
    emit({
        ready: true, endpoint: `opc.tcp://127.0.0.1:${args.port}/`, namespace: VALUES.namespace,
        vendor_namespace: VALUES.vendor_namespace, certificate, pid: process.pid,
        node: process.version, node_opcua: require("node-opcua/package.json").version,
    });
}

main().catch((err) => {
    emit({ error: String(err && err.stack || err) });
    process.exit(1);
});
