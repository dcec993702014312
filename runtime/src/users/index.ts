export {
  type UserDatabase,
  type VerifyResult,
  type VerifyFailure,
  UserDatabaseUnavailableError,
  checkLogin,
} from './user-database';
export { type Credential, parseCredential, MAX_PASSWORD_BYTES } from './credentials';
export { type WritableScheme, PasswdFileDatabase, InvalidCredentialError, hashPassword, addUser } from './passwd-file';
export { shaCrypt, parseShaCryptSetting, randomCryptSalt, type ShaCryptAlgorithm } from './sha-crypt';
export { LoginThrottle, type LoginThrottleOptions, type ThrottleLimits } from './throttle';
export { CryptPool, type CryptRunner, inlineCrypt, sharedCryptPool } from './crypt-pool';
export { type CryptJob, type CryptJobKind, runCryptJob } from './crypt-jobs';
export { UnknownUserCost } from './unknown-user';
export { PostgresUserDatabase } from './sql-userdb';
export { type UserDbConfig, loadUserDbConfig } from './userdb-file';
