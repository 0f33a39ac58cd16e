/* no_symbols — a shared library that is not a task-family plugin. */
int not_a_plugin(int x);
int not_a_plugin(int x) { return x + 1; }
