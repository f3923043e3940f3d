import { type CommandSpec } from '../command';
import * as specs from './specs';
import * as users from './users';

/** Every command, in the order `meetmatt --help` lists them. */
export const commands: CommandSpec[] = [
  specs.streamsList,
  specs.streamsRead,
  specs.streamsTail,
  specs.eventsShow,
  specs.trace,
  specs.projectionsList,
  specs.projectionsRebuild,
  specs.projectionsReplay,
  specs.projectionsSkip,
  specs.republish,
  specs.dlqList,
  specs.dlqShow,
  specs.dlqRedrive,
  specs.dlqPurge,
  specs.paymentsList,
  specs.paymentsReconcile,
  users.usersShow,
  users.usersGrantAdmin,
  users.usersRevokeAdmin,
];
