/* predict.h — a model's predictions over its input space, for the --html page: after a train
 * block traces a pass (JSON trace), the model's output over a grid of its 1 or 2 inputs, and once
 * the training points, as JSON events. The page draws them as a curve or a decision boundary, so
 * stepping through the passes shows the predictions improve. */
#ifndef NN_PREDICT_H
#define NN_PREDICT_H

#include "program.h"
#include "runtime.h"

/* At the start of a train block with a grid (t->has_grid), in a JSON trace: fills the grid's
 * leaf with points spanning the training rows (10 % beyond each side) and writes a "points"
 * event with the rows (the first 1000) and their targets. `block` and `run` name the block. */
void predict_begin(Runtime *rt, const TrainInstr *t, int block, const char *run);
/* After a traced pass (pass number `step`): computes the model over the grid and writes a "grid"
 * event. */
void predict_pass(Runtime *rt, const TrainInstr *t, int block, long step);

#endif
