import { apiKeysProjection } from './api-keys';
import { notificationsProjection } from './notifications';
import { sessionsProjection } from './sessions';
import { usersProjection } from './users';

/** Every read model of the user service. */
export const projections = [
  usersProjection,
  sessionsProjection,
  apiKeysProjection,
  notificationsProjection,
];
