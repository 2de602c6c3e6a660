// Sign up or log in; either answer carries the access token.

import { useMutation } from '@apollo/client/react';
import { type FormEvent, useState } from 'react';
import { describeError } from './errors.ts';
import { LogInDocument, SignUpDocument } from './operations.ts';

export function AuthForm({ onSignedIn }: { onSignedIn: (token: string) => void }) {
  const [mode, setMode] = useState<'logIn' | 'signUp'>('logIn');
  const [problem, setProblem] = useState<string | null>(null);
  const [logIn, logInState] = useMutation(LogInDocument);
  const [signUp, signUpState] = useMutation(SignUpDocument);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const input = { username: String(form.get('username')), password: String(form.get('password')) };
    setProblem(null);
    try {
      if (mode === 'logIn') {
        const { data } = await logIn({ variables: { input } });
        if (data) onSignedIn(data.logIn.token);
      } else {
        const { data } = await signUp({ variables: { input } });
        if (data) onSignedIn(data.signUp.token);
      }
    } catch (error) {
      setProblem(describeError(error));
    }
  }

  return (
    <section>
      <h2>{mode === 'logIn' ? 'Log in' : 'Sign up'}</h2>
      <form onSubmit={submit}>
        <label>
          Username
          <input name="username" autoComplete="username" required minLength={3} maxLength={32} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete={mode === 'logIn' ? 'current-password' : 'new-password'} required />
        </label>
        <button type="submit" disabled={logInState.loading || signUpState.loading}>
          {mode === 'logIn' ? 'Log in' : 'Sign up'}
        </button>
        <button type="button" onClick={() => setMode(mode === 'logIn' ? 'signUp' : 'logIn')}>
          {mode === 'logIn' ? 'New here? Sign up' : 'Have an account? Log in'}
        </button>
      </form>
      {problem ? (
        <p className="error" role="alert">
          {problem}
        </p>
      ) : null}
    </section>
  );
}
