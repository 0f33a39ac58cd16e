/* update_stats — what one learner update reports (learning.h), filled by the
 * losses (ppo.h, planner_targets.h, elbo.h) and the belief diagnostics. */
#ifndef VB_UPDATE_STATS_H
#define VB_UPDATE_STATS_H

typedef struct vb_update_stats {
    double loss_policy, loss_value, entropy, approx_kl, clip_frac;
    double loss_recon, kl, elbo;
    double belief_future_loglik;   /* mean log p of not-yet-seen transitions under q(m | phi_t) */
    double state_loglik;           /* the state head: mean log p(s' | s, a, m) per decoded transition (learned dynamics) */
    double belief_mae;             /* |decoded - exact posterior| per reward cell: bandit, gridworld; every 4th update (-1 if n/a or not measured) */
    double grad_norm, value_mean, return_mean;
    double lr;                     /* the learning rate this update stepped with */
    double planner_value_mean;     /* mean planner V-hat of the batch (varibased) */
    double carry_refreshed;        /* learner.refresh_carry: fraction of windows re-encoded (-1 if off) */
    double carry_drift;            /* their mean |fresh - cached| / |cached| start carry */
    double masked_frac;            /* PPO rows left out of the policy term (|log ratio| > VB_PPO_MAX_LOG_RATIO) */
} vb_update_stats;

#endif
