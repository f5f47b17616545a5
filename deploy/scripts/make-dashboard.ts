// Writes deploy/grafana/grpo-mesh.json from the dashboard's panel table (tools/deploy-check/src/dashboard.ts).
//   node --import tsx deploy/scripts/make-dashboard.ts
import { DASHBOARD_FILE, writeDashboard } from "../../tools/deploy-check/src/dashboard.ts";

writeDashboard(DASHBOARD_FILE);
console.log(`wrote ${DASHBOARD_FILE}`);
