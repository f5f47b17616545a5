// Builds the service images offline: no container registry, only Debian's archive and the npm
// registry. The base is made here from Debian packages with mmdebstrap (plus this machine's node and
// npm), or named with --base; every target of deploy/images/Dockerfile is then built with buildah.
//   npm run images [-- --targets=judge,policy,reference,orchestrator] [--tag=0.1.0] [--base=IMAGE]
//                  [--rebuild_base] [--suite=bookworm] [--json]
// deploy/README.md, "Images".
import { buildImagesMain } from "../../tools/deploy-check/src/images-build.ts";

process.exitCode = await buildImagesMain(process.argv.slice(2));
