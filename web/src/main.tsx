// Entry point: mounts the page (components/App.tsx) into index.html's <div id="app">.
import { render } from "preact";
import { App } from "./components/App";
import "./style.css";

const root = document.getElementById("app");
if (root) render(<App />, root);
