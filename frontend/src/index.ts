// Entry point: TensorBoard imports this module inside the plugin's iframe and calls render().
import { App } from "./app";
import css from "./style.css";
import chartCss from "uplot/dist/uPlot.min.css";

export function render(): void {
  const style = document.createElement("style");
  style.textContent = chartCss + "\n" + css;
  document.head.append(style);
  const root = document.createElement("div");
  document.body.append(root);
  void new App(root).start();
}
