export * from './client';
export * from './errors';
export * from './schemas';
export * from './signature';
export {
  type NowPaymentsSandbox,
  type NowPaymentsSandboxOptions,
  type SandboxPaymentView,
  createNowPaymentsSandbox,
} from './sandbox';
export { type IpnAttempt, type IpnDelivery, type IpnDeliveryState } from './sandbox-ipn';
export { SANDBOX_CASES, SANDBOX_MARKERS } from './sandbox-scenarios';
export { type SandboxCall } from './sandbox-state';
