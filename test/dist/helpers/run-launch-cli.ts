// `weft launch` as a command of its own, for tests that run launchers in other network
// namespaces: node dist/test/dist/helpers/run-launch-cli.js <launch args...>
import { runLaunch } from "../../../src/dist/launch/run-launch.js";

process.exitCode = await runLaunch(process.argv.slice(2));
