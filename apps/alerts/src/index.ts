export * from './alerts.module';
export * from './options';
export { DeliveryService, FeedHub, DELIVER_JOB } from './deliveries/delivery.service';
export { AlertsConsumer } from './matching/consumer.service';
export { SubscriptionsService } from './subscriptions/subscriptions.service';
export { AlertsRepository } from './repository';
export { SsrfGuard, WebhookUrlRefused, refusalReason, parseAllowlist } from './webhooks/ssrf';
export { signatureFor, webhookHeaders, generateSecret } from './webhooks/signing';
