/* The trainer's subcommands; each returns the process exit status. */
#ifndef TL_COMMANDS_H
#define TL_COMMANDS_H

int cmd_features(int argc, char **argv);
int cmd_make_weights(int argc, char **argv);
int cmd_export_weights(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_cache_features(int argc, char **argv);
int cmd_import_cars(int argc, char **argv);
int cmd_check_data(int argc, char **argv);
int cmd_demo_data(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_evaluate(int argc, char **argv);

#endif
