// Preload (`node --import`) for third-party Node MCP servers under test or load:
// - every server binds 127.0.0.1 only, whatever the server's own code asks for;
// - the bound port is reported on stderr as `AUTHSEC_LISTENING <port>` (start with PORT=0);
// - with AUTHSEC_EXIT_ON_STDIN_EOF=1 the process exits when its stdin closes, so a server
//   started by a test never outlives the test process.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    const callbacks = args.filter((a) => typeof a === "function");
    this.once("listening", () => {
      process.stderr.write(`AUTHSEC_LISTENING ${this.address().port}\n`);
    });
    return listen.call(this, { port: Number(first), host: "127.0.0.1" }, ...callbacks);
  }
  return listen.apply(this, args);
};

if (process.env.AUTHSEC_EXIT_ON_STDIN_EOF === "1") {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.on("error", () => process.exit(0));
  process.stdin.resume();
}
