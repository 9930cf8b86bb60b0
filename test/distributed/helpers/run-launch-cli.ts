// `weft launch` as a command of its own, for tests that run launchers in other network
// namespaces: node dist/test/distributed/helpers/run-launch-cli.js <launch args...>
import { runLaunch } from "../../../src/cli/run-launch.js";

process.exitCode = await runLaunch(process.argv.slice(2));
