// The views the dashboard offers, in tab order.
import { compareView } from "./compare";
import { datapathView } from "./datapath";
import { graphView } from "./graph";
import { memoryView } from "./memory";
import { opsView } from "./ops";
import { overviewView } from "./overview";
import { queryView } from "./query";
import { timelineView } from "./timeline";
import { View } from "./types";

export const VIEWS: View[] = [overviewView, graphView, opsView, timelineView, datapathView, memoryView, compareView, queryView];
