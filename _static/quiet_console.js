// The theme and sphinx-togglebutton log their routine steps to the console on every page
// ("[PST]: Changed to auto mode using the light theme.", "[togglebutton]: Adding toggle
// buttons to 5 items"). Those lines are dropped, so that a reader's console shows only what
// is wrong: errors and warnings are kept (scripts/check_book.py fails on any message).
(() => {
  const routine = /^\[(PST|SBT|togglebutton)\]/;
  for (const level of ["log", "info", "debug"]) {
    const write = console[level].bind(console);
    console[level] = (...args) => {
      if (!(typeof args[0] === "string" && routine.test(args[0]))) write(...args);
    };
  }
})();
